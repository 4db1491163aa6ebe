# Accuracy against training images per class, one line per method, from the CSV
# file that glora_fashion_mnist writes.
#
#   gnuplot -e "csv='fashion_mnist_results.csv'; png='examples/fashion_mnist/fashion_mnist.png'" \
#     examples/fashion_mnist/plot.gp

if (!exists("csv")) csv = 'fashion_mnist_results.csv'
if (!exists("png")) png = 'fashion_mnist.png'

set terminal pngcairo size 900,560 font 'sans,11'
set output png
set datafile separator ','
set key top left box opaque

set title 'Fashion-MNIST, rotated by 90° and inverted: adapting a pretrained 784-256-256-10 MLP'
set xlabel 'training images per class of the shifted domain (6000 = the whole training set)'
set ylabel 'accuracy on the shifted test set (%)'
set logscale x 2
set xrange [0.7:*]
set yrange [0:100]
set grid

# Columns: method, trainable_parameters, setting, shots_per_class, runs, mean, std.
# The header line is skipped; each plot keeps the rows of one method.
methods = 'frozen head lora glora full'
colors = '#808080 #1f77b4 #2ca02c #d62728 #9467bd'
plot for [i = 1:words(methods)] csv skip 1 \
  using (strcol(1) eq word(methods, i) ? $4 : NaN):6:7 \
  with yerrorlines lw 2 pt 7 lc rgb word(colors, i) title word(methods, i)
