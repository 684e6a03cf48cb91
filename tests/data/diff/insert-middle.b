1
2
3
4
5
6
new a
new b
7
8
9
10
11
12
