alpha
beta
gamma
