#!/bin/sh
echo "$GREETING"
echo "I run as $(id -u) in $(pwd); $(cat /app/build-info)"
