alpha
beta
delta