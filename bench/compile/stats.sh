# Summaries of a list of numbers on standard input, one or more per line or space-separated,
# shared by the compile-time scripts in this folder (sourced, not run).

# The middle value (the lower middle of an even count).
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# "lowest-highest".
range() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR] = $1} END {print a[1] "-" a[NR]}'; }
