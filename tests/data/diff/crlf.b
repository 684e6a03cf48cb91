keep
new
keep
