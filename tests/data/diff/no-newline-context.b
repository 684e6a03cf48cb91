1
2
3
four
5
last