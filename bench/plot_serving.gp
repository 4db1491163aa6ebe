# The serving, wide-batch, Dense and BLAS targets of bench/README.md: each measured ratio
# (median of three repetitions, bars from the lowest to the highest) against its limit, on
# both hosts of its tables (the loaded Intel Xeon guest; the idle AMD Zen 5 guest).
# gnuplot bench/plot_serving.gp   (writes bench/serving_ratios.png)
set terminal pngcairo size 1000,520 font ",9"
set output "bench/serving_ratios.png"
set title "Serving, wide batches, Dense and BLAS: measured ratio (median, range of 3) and limit, two hosts"
set ylabel "time ratio"
set yrange [0:1.6]
set grid ytics
set xtics rotate by 35 right noenhanced
set key bottom right
set xrange [-0.7:15.7]
set lmargin 14
set bmargin 11
$targets << EOD
"lora bank/single 4096 b16" 0.97 0.90 1.05 1.15
"full bank/merged 4096 b16" 0.46 0.39 0.47 0.80
"Dense/plain 4096 b1" 1.10 1.09 1.11 0.90
"Dense/plain 3072x768 b1" 1.37 1.14 1.37 1.02
"wide full 256x784 b10000" 1.15 1.10 1.16 1.10
"wide vec 256x784 b10000" 1.08 1.07 1.09 1.10
"wide full 256x256 b10000" 0.99 0.97 1.11 1.10
"wide vec 256x256 b10000" 1.04 0.98 1.25 1.10
"wide full 768x768 b2048" 1.21 1.18 1.22 1.10
"wide vec 768x768 b2048" 1.17 1.11 1.23 1.10
"wide full 3072x768 b4096" 1.10 1.08 1.12 1.10
"wide vec 3072x768 b4096" 1.06 1.06 1.17 1.10
"BLAS dense/sgemm 768 b197" 1.03 0.98 1.06 1.05
"BLAS dense/sgemm 3072x768 b197" 1.00 0.78 1.01 1.05
"BLAS unmerged/sgemm 768 b197" 1.12 1.06 1.24 1.05
"BLAS unmerged/sgemm 3072x768 b197" 1.15 0.94 1.33 1.05
EOD
$zen5 << EOD
"lora bank/single 4096 b16" 1.03 1.03 1.04
"full bank/merged 4096 b16" 0.71 0.71 0.72
"Dense/plain 4096 b1" 0.92 0.90 0.93
"Dense/plain 3072x768 b1" 1.01 1.01 1.01
"wide full 256x784 b10000" 1.01 1.01 1.04
"wide vec 256x784 b10000" 0.97 0.97 0.98
"wide full 256x256 b10000" 1.09 1.06 1.10
"wide vec 256x256 b10000" 1.07 1.03 1.09
"wide full 768x768 b2048" 1.09 1.08 1.09
"wide vec 768x768 b2048" 1.06 1.05 1.06
"wide full 3072x768 b4096" 1.06 1.06 1.07
"wide vec 3072x768 b4096" 1.06 1.05 1.07
"BLAS dense/sgemm 768 b197" 1.00 1.00 1.01
"BLAS dense/sgemm 3072x768 b197" 1.00 1.00 1.00
"BLAS unmerged/sgemm 768 b197" 1.02 1.02 1.03
"BLAS unmerged/sgemm 3072x768 b197" 1.04 1.04 1.04
EOD
plot $targets using ($0 - 0.15):2:3:4:xtic(1) with yerrorbars pt 7 title "Intel Xeon, loaded", \
     $zen5 using ($0 + 0.15):2:3:4 with yerrorbars pt 5 title "AMD Zen 5, idle", \
     $targets using 0:5 with points pt 2 ps 1.5 title "limit"
