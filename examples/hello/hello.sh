#!/bin/sh
echo "$GREETING! I am $(whoami) (pid $$) on $(hostname), running in $(pwd)."
