"""The Hugging Face transformers entries of the original README table (34 entries).

One builder per entry with the model's config written out (the hyper-parameters of the original checkpoint),
built with `Model._from_config(Config(...), dtype=torch.float32)`: random weights, fixed seed, no hub access.
Inputs have the shapes the original test's tokenizer / processor produced, with random token ids in the
ordinary range of the vocabulary and the special tokens where the tokenizer puts them.

Notes that apply to several entries:
- dtype: some originals ran in bf16 (recorded as `original_dtype`). The eager reference here is fp32 (bf16 is
  4-40x slower on these CPUs); the compiled program runs in bf16 on the device either way.
- generate: FLAN-T5, GPTNeo, OPT, codegen, Whisper, t5-* and speecht5-tts compiled `model.generate` (or
  generate_speech) in the original. For now each test records the model's forward with a decoder input
  (the first decoding step); compiling generation is a separate issue. The original call is recorded as
  `original_call`.
- attention: transformers uses fused scaled_dot_product_attention by default (sdpa), so these graphs have
  fewer aten ops than the original table counted; attn_implementation="eager" would give the decomposed form.
- Falcon-7B and Llama-7B are built with num_hidden_layers=2 (a 7B model needs ~28 GB in fp32, more than this
  24 GiB host); `full_params` records the parameter count of the full architecture for memory estimates.
"""
from __future__ import annotations

import torch

from .. import ZooEntry

ENTRIES: list = []


def entry(name, **props):
    def register(fn):
        ENTRIES.append(ZooEntry(name, fn, source="transformers", properties=props, requires=("transformers",)))
        return fn
    return register


def _from_config(cls, config):
    """Random weights with the fixed seed, fp32, eval mode."""
    torch.manual_seed(0)
    return cls._from_config(config, dtype=torch.float32).eval()


def _reduced_depth(cls, config, layers_attr="num_hidden_layers", layers=2):
    """The architecture with `layers` decoder layers, and the parameter count of the full one (built on the meta
    device: nothing is allocated). Tied weights count once (Falcon ties lm_head to the embedding: 6.92B; counted
    twice it would be 7.22B)."""
    with torch.device("meta"):
        full = cls(config)
    full_params = sum(p.numel() for p in full.parameters())
    del full
    setattr(config, layers_attr, layers)
    return _from_config(cls, config), {"full_params": full_params, "reduced_depth": f"{layers_attr}={layers}"}


def _tokens(n, low, high):
    return torch.randint(low, high, (n,))


def _ids(*parts, pad_to=None, pad_id=0):
    """Concatenate ints / 1-D tensors into a (1, L) id tensor and its attention mask, padded to pad_to."""
    ids = torch.cat([torch.as_tensor([p]) if isinstance(p, int) else p for p in parts]).to(torch.int64)
    mask = torch.ones_like(ids)
    if pad_to is not None:
        pad = pad_to - ids.numel()
        ids = torch.cat([ids, torch.full((pad,), pad_id, dtype=torch.int64)])
        mask = torch.cat([mask, torch.zeros(pad, dtype=torch.int64)])
    return ids[None], mask[None]


# --------------------------------------------------------------------------------------------- encoders

@entry("BERT", original_dtype="bfloat16")
def build_bert():
    # phiyodr/bert-large-finetuned-squad2: question + context, padding="max_length", max_length=256
    from transformers import BertConfig, BertForQuestionAnswering
    model = _from_config(BertForQuestionAnswering, BertConfig(
        vocab_size=30522, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
        hidden_act="gelu", max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12))
    question, context = _tokens(12, 1000, 30000), _tokens(150, 1000, 30000)
    input_ids, attention_mask = _ids(101, question, 102, context, 102, pad_to=256)
    token_type_ids = torch.zeros_like(input_ids)
    token_type_ids[0, 14:14 + 151] = 1                      # context and its [SEP]
    return model, {"input_ids": input_ids, "token_type_ids": token_type_ids, "attention_mask": attention_mask}


@entry("DPR")
def build_dpr():
    # facebook/dpr-reader-single-nq-base: one passage, "[CLS] question [SEP] title [SEP] text"
    from transformers import DPRConfig, DPRReader
    model = _from_config(DPRReader, DPRConfig(
        vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        max_position_embeddings=512, type_vocab_size=2, projection_dim=0))
    input_ids, attention_mask = _ids(101, _tokens(8, 1000, 30000), 102, _tokens(3, 1000, 30000), 102,
                                     _tokens(11, 1000, 30000))
    return model, {"input_ids": input_ids, "attention_mask": attention_mask}


@entry("RoBERTa")
def build_roberta():
    # FacebookAI/xlm-roberta-base masked LM: "<s> ... <mask> ... </s>"
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM
    model = _from_config(XLMRobertaForMaskedLM, XLMRobertaConfig(
        vocab_size=250002, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0,
        eos_token_id=2))
    input_ids, attention_mask = _ids(0, _tokens(5, 1000, 250000), 250001, _tokens(2, 1000, 250000), 2)
    return model, {"input_ids": input_ids, "attention_mask": attention_mask}


@entry("SqueezeBERT", original_dtype="bfloat16")
def build_squeezebert():
    # squeezebert/squeezebert-mnli sequence classification (3 labels)
    from transformers import SqueezeBertConfig, SqueezeBertForSequenceClassification
    model = _from_config(SqueezeBertForSequenceClassification, SqueezeBertConfig(
        vocab_size=30528, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        embedding_size=768, q_groups=4, k_groups=4, v_groups=4, post_attention_groups=1, intermediate_groups=4,
        output_groups=4, num_labels=3))
    input_ids, attention_mask = _ids(101, _tokens(6, 1000, 30000), 102)
    return model, {"input_ids": input_ids, "attention_mask": attention_mask}


@entry("distilbert-base-uncased")
def build_distilbert():
    from transformers import DistilBertConfig, DistilBertModel
    model = _from_config(DistilBertModel, DistilBertConfig(
        vocab_size=30522, dim=768, n_layers=6, n_heads=12, hidden_dim=3072, max_position_embeddings=512))
    input_ids, attention_mask = _ids(101, _tokens(12, 1000, 30000), 102)
    return model, {"input_ids": input_ids, "attention_mask": attention_mask}


def _albert_config(hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, **extra):
    from transformers import AlbertConfig
    return AlbertConfig(vocab_size=30000, embedding_size=128, hidden_size=hidden_size,
                        num_hidden_layers=num_hidden_layers, num_attention_heads=num_attention_heads,
                        intermediate_size=intermediate_size, hidden_act="gelu_new", hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, max_position_embeddings=512, type_vocab_size=2, **extra)


def _albert_masked_lm(config):
    # test_albert_masked_lm: "[CLS] ... [MASK] ... [SEP]", 9 tokens
    from transformers import AlbertForMaskedLM
    model = _from_config(AlbertForMaskedLM, config)
    input_ids, attention_mask = _ids(2, _tokens(4, 100, 30000), 4, _tokens(2, 100, 30000), 3)
    return model, {"input_ids": input_ids, "attention_mask": attention_mask}


@entry("albert/albert-base-v2")
def build_albert_base_v2():
    return _albert_masked_lm(_albert_config(768, 12, 12, 3072))


@entry("albert/albert-large-v2")
def build_albert_large_v2():
    return _albert_masked_lm(_albert_config(1024, 24, 16, 4096))


@entry("albert/albert-xlarge-v2")
def build_albert_xlarge_v2():
    return _albert_masked_lm(_albert_config(2048, 24, 16, 8192))


@entry("albert/albert-xxlarge-v2")
def build_albert_xxlarge_v2():
    return _albert_masked_lm(_albert_config(4096, 12, 64, 16384))


@entry("textattack/albert-base-v2-imdb")
def build_albert_imdb():
    # sequence classification (2 labels), 9 tokens
    from transformers import AlbertForSequenceClassification
    model = _from_config(AlbertForSequenceClassification, _albert_config(768, 12, 12, 3072, num_labels=2))
    input_ids, attention_mask = _ids(2, _tokens(7, 100, 30000), 3)
    return model, {"input_ids": input_ids, "attention_mask": attention_mask}


@entry("twmkn9/albert-base-v2-squad2")
def build_albert_squad2():
    # question answering: "[CLS] question [SEP] context [SEP]", 15 tokens with token types
    from transformers import AlbertForQuestionAnswering
    model = _from_config(AlbertForQuestionAnswering, _albert_config(768, 12, 12, 3072))
    input_ids, attention_mask = _ids(2, _tokens(5, 100, 30000), 3, _tokens(7, 100, 30000), 3)
    token_type_ids = torch.zeros_like(input_ids)
    token_type_ids[0, 7:] = 1
    return model, {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}


# --------------------------------------------------------------------------------------------- decoders

@entry("Bloom", original_dtype="bfloat16")
def build_bloom():
    # bigscience/bloom-1b1
    from transformers import BloomConfig, BloomForCausalLM
    model = _from_config(BloomForCausalLM, BloomConfig(
        vocab_size=250880, hidden_size=1536, n_layer=24, n_head=16, layer_norm_epsilon=1e-5,
        apply_residual_connection_post_layernorm=False))
    input_ids, attention_mask = _ids(1, _tokens(31, 1000, 250000))
    return model, {"input_ids": input_ids, "attention_mask": attention_mask}


@entry("GPT-2", original_dtype="bfloat16")
def build_gpt2():
    # mnoukhov/gpt2-imdb-sentiment-classifier (2 labels)
    from transformers import GPT2Config, GPT2ForSequenceClassification
    model = _from_config(GPT2ForSequenceClassification, GPT2Config(
        vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, num_labels=2, pad_token_id=50256))
    input_ids, attention_mask = _ids(_tokens(7, 100, 50000))
    return model, {"input_ids": input_ids, "attention_mask": attention_mask}


@entry("GPTNeo", original_call="generate(max_length=100, do_sample=True)")
def build_gptneo():
    # EleutherAI/gpt-neo-125M; the original compiled model.generate (see the module docstring)
    from transformers import GPTNeoConfig, GPTNeoForCausalLM
    model = _from_config(GPTNeoForCausalLM, GPTNeoConfig(
        vocab_size=50257, hidden_size=768, num_layers=12, num_heads=12, attention_types=[[["global", "local"], 6]],
        window_size=256, max_position_embeddings=2048, intermediate_size=None, activation_function="gelu_new",
        bos_token_id=50256, eos_token_id=50256))
    return model, {"input_ids": _ids(_tokens(40, 100, 50000))[0]}


@entry("OPT", original_call="generate(max_new_tokens=30)")
def build_opt():
    # facebook/opt-350m; the original compiled model.generate (see the module docstring)
    from transformers import OPTConfig, OPTForCausalLM
    model = _from_config(OPTForCausalLM, OPTConfig(
        vocab_size=50272, hidden_size=1024, num_hidden_layers=24, ffn_dim=4096, num_attention_heads=16,
        word_embed_proj_dim=512, do_layer_norm_before=False, max_position_embeddings=2048,
        activation_function="relu", pad_token_id=1, bos_token_id=2, eos_token_id=2))
    return model, {"input_ids": _ids(2, _tokens(47, 100, 50000))[0]}


@entry("XGLM")
def build_xglm():
    # facebook/xglm-564M with labels (the forward also computes the LM loss)
    from transformers import XGLMConfig, XGLMForCausalLM
    model = _from_config(XGLMForCausalLM, XGLMConfig(
        vocab_size=256008, max_position_embeddings=2048, d_model=1024, ffn_dim=4096, num_layers=24,
        attention_heads=16, activation_function="gelu", scale_embedding=True))
    input_ids, attention_mask = _ids(2, _tokens(17, 1000, 256000))
    return model, {"input_ids": input_ids, "attention_mask": attention_mask, "labels": input_ids.clone()}


@entry("codegen", original_call="generate(max_length=20)")
def build_codegen():
    # Salesforce/codegen-350M-mono; the original compiled model.generate (see the module docstring)
    from transformers import CodeGenConfig, CodeGenForCausalLM
    model = _from_config(CodeGenForCausalLM, CodeGenConfig(
        vocab_size=51200, n_positions=2048, n_ctx=2048, n_embd=1024, n_layer=20, n_head=16, rotary_dim=32,
        activation_function="gelu_new", tie_word_embeddings=False, bos_token_id=1, eos_token_id=50256))
    return model, {"input_ids": _ids(_tokens(5, 100, 50000))[0]}


@entry("Falcon", original_dtype="bfloat16")
def build_falcon():
    # tiiuae/falcon-7b-instruct, reduced to 2 of its 32 layers (host memory; see the module docstring)
    from transformers import FalconConfig, FalconForCausalLM
    model, props = _reduced_depth(FalconForCausalLM, FalconConfig(
        vocab_size=65024, hidden_size=4544, num_hidden_layers=32, num_attention_heads=71, num_kv_heads=71,
        multi_query=True, parallel_attn=True, bias=False, alibi=False, new_decoder_architecture=False,
        layer_norm_epsilon=1e-5, bos_token_id=11, eos_token_id=11))
    input_ids, attention_mask = _ids(_tokens(7, 100, 65000))
    return model, {"input_ids": input_ids, "attention_mask": attention_mask}, props


@entry("Llama", original_dtype="bfloat16")
def build_llama():
    # huggyllama/llama-7b, reduced to 2 of its 32 layers (host memory; see the module docstring)
    from transformers import LlamaConfig, LlamaForCausalLM
    model, props = _reduced_depth(LlamaForCausalLM, LlamaConfig(
        vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=32, max_position_embeddings=2048, rms_norm_eps=1e-6, hidden_act="silu",
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2))
    input_ids, attention_mask = _ids(1, _tokens(31, 100, 32000))
    return model, {"input_ids": input_ids, "attention_mask": attention_mask}, props


# --------------------------------------------------------------------------------------- encoder-decoders

def _t5(d_model, d_ff, num_layers, num_heads, feed_forward_proj, tie_word_embeddings, input_len):
    from transformers import T5Config, T5ForConditionalGeneration
    model = _from_config(T5ForConditionalGeneration, T5Config(
        vocab_size=32128, d_model=d_model, d_kv=64, d_ff=d_ff, num_layers=num_layers,
        num_decoder_layers=num_layers, num_heads=num_heads, feed_forward_proj=feed_forward_proj,
        tie_word_embeddings=tie_word_embeddings, relative_attention_num_buckets=32, decoder_start_token_id=0,
        pad_token_id=0, eos_token_id=1))
    input_ids, attention_mask = _ids(_tokens(input_len - 1, 100, 32000), 1)    # ends with </s>
    # the first decoding step: decoder_start_token_id
    return model, {"input_ids": input_ids, "attention_mask": attention_mask,
                   "decoder_input_ids": torch.zeros(1, 1, dtype=torch.int64)}


@entry("FLAN-T5", original_call="generate(max_new_tokens=8)")
def build_flan_t5():
    # google/flan-t5-small; the original compiled model.generate (see the module docstring)
    return _t5(512, 1024, 8, 6, "gated-gelu", False, input_len=14)


@entry("t5-small", original_call="generate(max_new_tokens=8)")
def build_t5_small():
    return _t5(512, 2048, 6, 8, "relu", True, input_len=11)


@entry("t5-base", original_call="generate(max_new_tokens=8)")
def build_t5_base():
    return _t5(768, 3072, 12, 12, "relu", True, input_len=11)


@entry("t5-large", original_call="generate(max_new_tokens=8)")
def build_t5_large():
    return _t5(1024, 4096, 24, 16, "relu", True, input_len=11)


@entry("Whisper", original_call="generate(max_new_tokens=8)")
def build_whisper():
    # openai/whisper-small on 30 s of audio (80 log-mel bins x 3000 frames, values in [-1, 1] like the
    # feature extractor's); decoder prompt <|startoftranscript|><|en|><|transcribe|><|notimestamps|>
    from transformers import WhisperConfig, WhisperForConditionalGeneration
    model = _from_config(WhisperForConditionalGeneration, WhisperConfig(
        vocab_size=51865, num_mel_bins=80, d_model=768, encoder_layers=12, decoder_layers=12,
        encoder_attention_heads=12, decoder_attention_heads=12, encoder_ffn_dim=3072, decoder_ffn_dim=3072,
        max_source_positions=1500, max_target_positions=448, decoder_start_token_id=50258, pad_token_id=50257,
        bos_token_id=50257, eos_token_id=50257))
    return model, {"input_features": torch.rand(1, 80, 3000) * 2 - 1,
                   "decoder_input_ids": torch.tensor([[50258, 50259, 50359, 50363]])}


@entry("speecht5-tts", original_call="generate_speech(input_ids, speaker_embeddings, vocoder=SpeechT5HifiGan)")
def build_speecht5_tts():
    # microsoft/speecht5_tts; the original compiled generate_speech (+ the HiFi-GAN vocoder). Here: one forward
    # of the text encoder and speech decoder on 20 mel frames (2 frames per step, reduction_factor=2).
    from transformers import SpeechT5Config, SpeechT5ForTextToSpeech
    model = _from_config(SpeechT5ForTextToSpeech, SpeechT5Config(
        vocab_size=81, hidden_size=768, encoder_layers=12, encoder_attention_heads=12, encoder_ffn_dim=3072,
        decoder_layers=6, decoder_attention_heads=12, decoder_ffn_dim=3072, num_mel_bins=80, reduction_factor=2,
        speaker_embedding_dim=512, speech_decoder_prenet_layers=2, speech_decoder_prenet_units=256,
        speech_decoder_postnet_layers=5, speech_decoder_postnet_units=256, max_speech_positions=4000,
        max_text_positions=450))
    # The speech-decoder prenet applies its dropout even in eval mode (a Bernoulli mask drawn on every call),
    # so two runs never agree. speech_decoder_prenet_dropout=0 does not help: the mask keeps an element with
    # probability p, so p=0 zeroes the prenet output. Make it the identity, as an eval-mode dropout is.
    model.speecht5.decoder.prenet._consistent_dropout = lambda inputs_embeds, p: inputs_embeds
    input_ids, attention_mask = _ids(_tokens(22, 4, 81), 2)          # characters, then </s>
    return model, {"input_ids": input_ids, "attention_mask": attention_mask,
                   "decoder_input_values": torch.randn(1, 20, 80), "speaker_embeddings": torch.randn(1, 512) * 0.05}


# ---------------------------------------------------------------------------------------- vision / multimodal

@entry("CLIP", original_dtype="bfloat16")
def build_clip():
    # openai/clip-vit-base-patch32: texts ["a photo of a cat", "a photo of a dog"] (7 tokens with <|startoftext|>
    # and <|endoftext|>) and one 224x224 image
    from transformers import CLIPConfig, CLIPModel
    model = _from_config(CLIPModel, CLIPConfig(
        text_config={"vocab_size": 49408, "hidden_size": 512, "intermediate_size": 2048, "num_attention_heads": 8,
                     "num_hidden_layers": 12, "max_position_embeddings": 77, "hidden_act": "quick_gelu"},
        vision_config={"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12,
                       "num_hidden_layers": 12, "image_size": 224, "patch_size": 32, "hidden_act": "quick_gelu"},
        projection_dim=512))
    input_ids = torch.tensor([[49406, 320, 1125, 539, 320, 2368, 49407],
                              [49406, 320, 1125, 539, 320, 1929, 49407]])
    return model, {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids),
                   "pixel_values": torch.randn(1, 3, 224, 224)}


@entry("GLPN-KITTI")
def build_glpn_kitti():
    # vinvino02/glpn-kitti depth estimation (MiT-b4 encoder) on a 480x640 image
    from transformers import GLPNConfig, GLPNForDepthEstimation
    model = _from_config(GLPNForDepthEstimation, GLPNConfig(
        num_encoder_blocks=4, depths=[3, 8, 27, 3], sr_ratios=[8, 4, 2, 1], hidden_sizes=[64, 128, 320, 512],
        patch_sizes=[7, 3, 3, 3], strides=[4, 2, 2, 2], num_attention_heads=[1, 2, 5, 8], mlp_ratios=[4, 4, 4, 4],
        decoder_hidden_size=64, max_depth=80, head_in_index=-1))
    return model, {"pixel_values": torch.randn(1, 3, 480, 640)}


@entry("Perceiver IO")
def build_perceiver_io():
    # deepmind/language-perceiver masked LM on UTF-8 bytes, padding="max_length" (2048); bytes 52..60 masked
    from transformers import PerceiverConfig, PerceiverForMaskedLM
    model = _from_config(PerceiverForMaskedLM, PerceiverConfig(
        num_latents=256, d_latents=1280, d_model=768, num_blocks=1, num_self_attends_per_block=26,
        num_self_attention_heads=8, num_cross_attention_heads=8, qk_channels=None, v_channels=None,
        vocab_size=262, max_position_embeddings=2048))
    text = torch.tensor(list("This is an incomplete sentence where some words are missing.".encode())) + 6
    inputs, attention_mask = _ids(4, text, 5, pad_to=2048)        # [CLS]=4 ... [SEP]=5, [PAD]=0
    inputs[0, 52:61] = 3                                           # [MASK]
    return model, {"inputs": inputs, "attention_mask": attention_mask}


@entry("SegFormer")
def build_segformer():
    # nvidia/segformer-b0-finetuned-ade-512-512
    from transformers import SegformerConfig, SegformerForSemanticSegmentation
    model = _from_config(SegformerForSemanticSegmentation, SegformerConfig(
        num_encoder_blocks=4, depths=[2, 2, 2, 2], sr_ratios=[8, 4, 2, 1], hidden_sizes=[32, 64, 160, 256],
        num_attention_heads=[1, 2, 5, 8], decoder_hidden_size=256, num_labels=150))
    return model, {"pixel_values": torch.randn(1, 3, 512, 512)}


@entry("ViLT")
def build_vilt():
    # dandelin/vilt-b32-finetuned-vqa: a question of 8 tokens and a 384x512 image (the processor's output)
    from transformers import ViltConfig, ViltForQuestionAnswering
    model = _from_config(ViltForQuestionAnswering, ViltConfig(
        vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        image_size=384, patch_size=32, max_position_embeddings=40, modality_type_vocab_size=2, num_labels=3129))
    input_ids, attention_mask = _ids(101, _tokens(6, 1000, 30000), 102)
    return model, {"input_ids": input_ids, "token_type_ids": torch.zeros_like(input_ids),
                   "attention_mask": attention_mask, "pixel_values": torch.randn(1, 3, 384, 512),
                   "pixel_mask": torch.ones(1, 384, 512, dtype=torch.int64)}


@entry("YOLOS")
def build_yolos():
    # hustvl/yolos-tiny; the processor resizes the 640x480 COCO image to 512x683
    from transformers import YolosConfig, YolosForObjectDetection
    model = _from_config(YolosForObjectDetection, YolosConfig(
        hidden_size=192, num_hidden_layers=12, num_attention_heads=3, intermediate_size=768, image_size=[800, 1333],
        patch_size=16, num_detection_tokens=100, use_mid_position_embeddings=False, num_labels=91))
    return model, {"pixel_values": torch.randn(1, 3, 512, 683)}


@entry("facebook/deit-base-patch16-224")
def build_deit_base():
    # loaded as ViTForImageClassification in the original
    from transformers import ViTConfig, ViTForImageClassification
    model = _from_config(ViTForImageClassification, ViTConfig(
        hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, image_size=224,
        patch_size=16, qkv_bias=True, layer_norm_eps=1e-12, num_labels=1000))
    return model, {"pixel_values": torch.randn(1, 3, 224, 224)}


def _beit(hidden_size, num_hidden_layers, num_attention_heads, intermediate_size):
    from transformers import BeitConfig, BeitForImageClassification
    model = _from_config(BeitForImageClassification, BeitConfig(
        hidden_size=hidden_size, num_hidden_layers=num_hidden_layers, num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size, image_size=224, patch_size=16, use_mask_token=False,
        use_absolute_position_embeddings=False, use_relative_position_bias=True,
        use_shared_relative_position_bias=False, layer_scale_init_value=0.1, use_mean_pooling=True,
        num_labels=1000))
    return model, {"pixel_values": torch.randn(1, 3, 224, 224)}


@entry("microsoft/beit-base-patch16-224")
def build_beit_base():
    return _beit(768, 12, 12, 3072)


@entry("microsoft/beit-large-patch16-224")
def build_beit_large():
    return _beit(1024, 24, 16, 4096)
