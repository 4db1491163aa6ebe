# Accuracy against training images per class, one line per method, from the CSV
# file that glora_fashion_mnist writes (mean and std over the seeds):
#
#   gnuplot -e "csv='fashion_mnist_new-classes.csv'; png='fashion_mnist.png'" plot.gp
#
# Optional: title='...' (the plot's title), yrange_min=... (default 40).

if (!exists("csv")) csv = 'fashion_mnist_new-classes.csv'
if (!exists("png")) png = 'fashion_mnist.png'
if (!exists("title")) title = 'Fashion-MNIST: adapting a pretrained 784-256-256 MLP to five new classes'
if (!exists("yrange_min")) yrange_min = 40

set terminal pngcairo size 960,600 font 'sans,11'
set output png
set datafile separator ','
set key bottom right box opaque font ',10'

set title title
set xlabel 'training images per class (the rightmost point: the whole training split)'
set ylabel 'accuracy on the test set of the task (%)'
set logscale x 2
set xrange [0.7:*]
set yrange [yrange_min:100]
set grid

# Columns: method, trainable_parameters, setting, shots_per_class, runs, mean, std.
# The header line is skipped; each plot keeps the rows of one method.
methods = 'head lora glora full search-lora-retrained search-lora-inherited search-half-retrained search-half-inherited'
titles = 'head LoRA-4 GLoRA-fixed full search(LoRA-budget),retrained search(LoRA-budget),inherited search(half-budget),retrained search(half-budget),inherited'
colors = '#1f77b4 #2ca02c #d62728 #9467bd #ff7f0e #ff7f0e #8c564b #8c564b'
dashes = '1 1 1 1 1 2 1 2'
plot for [i = 1:words(methods)] csv skip 1 \
  using (strcol(1) eq word(methods, i) ? $4 : NaN):6:7 \
  with yerrorlines lw 2 pt 7 dt int(word(dashes, i)) lc rgb word(colors, i) \
  title word(titles, i)
