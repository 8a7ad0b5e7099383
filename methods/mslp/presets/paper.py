# The paper's setting as far as it is known: ~1.5M text-labelled pose clips (SL-1.5M; here
# the benchmark's pose+text corpus), 100 pre-training epochs, a frozen multilingual text
# encoder (give its local folder: --set model.text.name_or_path=DIR), the shared encoder.
# Unknown, chosen here: batch 128 (~11.7k steps an epoch on 1.5M clips) with no gradient
# accumulation, lr 5e-4, AdamW (weight decay 0.01, torch's eps and betas) with 5% warm-up
# then cosine and gradient clip 1, clips up to 128 frames, mask ratios (0.2 frames, 0.3
# joints), decoder width, loss weights (all 1), and the shared fine-tuning schedule.
_base_ = ["./_base.py"]
