# scratch: the shared encoder and heads (methods/common/presets) trained from random
# initialisation on the benchmark's labelled clips. It never pre-trains; `checkpoint`
# initialises its encoder from a file instead (e.g. a Uni-Sign release checkpoint).
pretrain = dict(epochs=0, checkpoint=None)
