"""A tiny multimodal projector ("mmproj") GGUF with random weights, for the image-input tests.

Why it exists: the embedded engine (llama-cpp-python's libmtmd) only takes images when it is
given an mmproj file next to the text model, and no real vision weights can be fetched here
(only PyPI, npm and Debian are reachable, and none of them ships one). A projector with random
weights still drives the whole real code path: libmtmd loads and validates the file, decodes
and preprocesses the picture, runs the vision encoder and the projector, and injects the
resulting embeddings into the text model's context in place of the image marker. Only the
meaning is lost: whatever the model says about the image is noise, so tests must assert on
plumbing (it runs, tokens are counted, the reply is well formed), never on the words.

The file is a LLaVA-1.5 style projector (``clip.projector_type = "mlp"``), the simplest type
``tools/mtmd/clip.cpp`` knows: a CLIP ViT (patch embedding, class embedding, position
embedding, pre-layernorm, transformer blocks) followed by a two-layer MLP (``mm.0``, GELU,
``mm.2``) whose output width must equal the text model's ``n_embd``. Tensor names and metadata
keys are the ones ``clip-impl.h`` reads. The image is resized to ``IMAGE_SIZE`` square whatever
its size (no tiling for this projector type), so every image costs ``TOKENS_PER_IMAGE`` tokens.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGUFWriter
from numpy.typing import NDArray

IMAGE_SIZE = 64
"""Side of the square every image is resized to."""
PATCH_SIZE = 16
"""Side of one ViT patch; one patch becomes one image token."""
VISION_EMBEDDING = 32
"""Width of the vision encoder (a real CLIP ViT-L has 1024)."""
VISION_HEADS = 4
VISION_FEED_FORWARD = 64
VISION_BLOCKS = 2
"""LLaVA takes the features of the next-to-last block, so with 2 blocks exactly one block runs."""
PROJECTOR_HIDDEN = 64
"""Width between the two projector layers (a real LLaVA uses the text model's width)."""
LAYER_NORM_EPS = 1e-5
IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)
IMAGE_STD = (0.26862954, 0.26130258, 0.27577711)

PATCHES_PER_SIDE = IMAGE_SIZE // PATCH_SIZE
TOKENS_PER_IMAGE = PATCHES_PER_SIDE * PATCHES_PER_SIDE
"""Image tokens one image becomes (16), whatever the size of the picture sent."""

_WEIGHT_SCALE = 0.02

Floats = NDArray[np.float32]


def write_tiny_mmproj(path: Path, *, text_embedding: int = 576, seed: int = 0) -> Path:
    """Write the projector to ``path`` and return it.

    ``text_embedding`` is the text model's ``n_embd`` (576 for SmolLM2-135M): libmtmd refuses a
    projector whose output width differs. The same ``seed`` gives the same bytes.
    """
    rng = np.random.default_rng(seed)

    def random(*shape: int) -> Floats:
        return (rng.standard_normal(shape) * _WEIGHT_SCALE).astype(np.float32)

    def ones(n: int) -> Floats:
        return np.ones(n, dtype=np.float32)

    def zeros(n: int) -> Floats:
        return np.zeros(n, dtype=np.float32)

    width = VISION_EMBEDDING
    # numpy shapes are (rows, columns) = ggml's ne reversed: a linear layer is (out, in).
    tensors: dict[str, Floats] = {
        "v.patch_embd.weight": random(width, 3, PATCH_SIZE, PATCH_SIZE),
        "v.class_embd": random(width),
        "v.position_embd.weight": random(TOKENS_PER_IMAGE + 1, width),  # + 1: the class token
        "v.pre_ln.weight": ones(width),
        "v.pre_ln.bias": zeros(width),
    }
    for block in range(VISION_BLOCKS):
        prefix = f"v.blk.{block}"
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            tensors[f"{prefix}.{name}.weight"] = random(width, width)
            tensors[f"{prefix}.{name}.bias"] = random(width)
        for norm in ("ln1", "ln2"):
            tensors[f"{prefix}.{norm}.weight"] = ones(width)
            tensors[f"{prefix}.{norm}.bias"] = zeros(width)
        tensors[f"{prefix}.ffn_up.weight"] = random(VISION_FEED_FORWARD, width)
        tensors[f"{prefix}.ffn_up.bias"] = random(VISION_FEED_FORWARD)
        tensors[f"{prefix}.ffn_down.weight"] = random(width, VISION_FEED_FORWARD)
        tensors[f"{prefix}.ffn_down.bias"] = random(width)
    tensors["mm.0.weight"] = random(PROJECTOR_HIDDEN, width)
    tensors["mm.0.bias"] = random(PROJECTOR_HIDDEN)
    tensors["mm.2.weight"] = random(text_embedding, PROJECTOR_HIDDEN)
    tensors["mm.2.bias"] = random(text_embedding)

    writer = GGUFWriter(path, "clip")
    writer.add_string("general.name", "tiny-random-mmproj")
    writer.add_string("general.description", "random weights, for tests only")
    writer.add_uint32("general.file_type", 0)  # all F32
    writer.add_string("clip.projector_type", "mlp")
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_uint32("clip.vision.image_size", IMAGE_SIZE)
    writer.add_uint32("clip.vision.patch_size", PATCH_SIZE)
    writer.add_uint32("clip.vision.embedding_length", width)
    writer.add_uint32("clip.vision.feed_forward_length", VISION_FEED_FORWARD)
    writer.add_uint32("clip.vision.projection_dim", text_embedding)
    writer.add_uint32("clip.vision.block_count", VISION_BLOCKS)
    writer.add_uint32("clip.vision.attention.head_count", VISION_HEADS)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", LAYER_NORM_EPS)
    writer.add_array("clip.vision.image_mean", list(IMAGE_MEAN))
    writer.add_array("clip.vision.image_std", list(IMAGE_STD))
    for name, data in tensors.items():
        writer.add_tensor(name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
