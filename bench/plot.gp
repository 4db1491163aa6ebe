# Unmerged / merged forward time against batch size, one line per config and shape.
# gnuplot -e "data='ratios.dat'; out='ratios.png'" bench/plot.gp
set terminal pngcairo size 900,560 font ",10"
set output out
set title "GLoRA unmerged forward / merged forward (single thread, float)"
set xlabel "batch size (columns of X)"
set ylabel "time ratio"
set logscale x
set xtics (1, 16, 197)
set key outside right
set grid
set datafile columnheaders
stats data nooutput
plot for [i=0:STATS_blocks-1] data index i using 1:2 with linespoints \
     title columnheader(1) noenhanced
