"""Dequantise a GGUF (Qwen2.5) into a Hugging Face bf16 folder for vLLM / `transformers serve`.

usage: python gguf2hf.py MODEL.gguf OUT_DIR   (run offline: HF_HUB_OFFLINE=1)
"""

import os
import sys
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

src, out = sys.argv[1], sys.argv[2]
d, f = os.path.dirname(os.path.abspath(src)), os.path.basename(src)
t = time.time()
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.bfloat16)
# transformers marks GGUF-loaded (already dequantised) models as "quantized" and then refuses
# save_pretrained: drop the marker.
model.hf_quantizer = None
if hasattr(model.config, "quantization_config"):
    del model.config.quantization_config
model.save_pretrained(out)
tok.save_pretrained(out)
print("chat_template present:", bool(tok.chat_template), "secs", round(time.time() - t, 1))
