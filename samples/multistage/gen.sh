#!/bin/sh
# Prints a small generated report: the squares of 1..N and their sum.
n=${1:-5}
sum=0
i=1
while [ "$i" -le "$n" ]; do
  echo "square $i = $((i * i))"
  sum=$((sum + i * i))
  i=$((i + 1))
done
echo "sum of squares to $n = $sum"
