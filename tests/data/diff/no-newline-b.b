alpha
beta
gamma