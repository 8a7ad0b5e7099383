# The paper's setting as far as it is known: ~1.5M text-labelled pose clips (SL-1.5M; here
# the benchmark's pose+text corpus), 100 pre-training epochs, a frozen multilingual text
# encoder (give its local folder: --set model.text.name_or_path=DIR), the shared encoder.
# Unknown, chosen here: batch 128 (~11.7k steps an epoch on 1.5M clips), lr 5e-4, clips up
# to 128 frames, mask ratios (0.2 frames, 0.3 joints), decoder width, loss weights (all 1),
# and the shared fine-tuning schedule.
_base_ = ["./_base.py"]
