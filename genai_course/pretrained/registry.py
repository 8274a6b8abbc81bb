"""The shipped checkpoints. Each chapter adds its entry here (see ``genai_course.pretrained``)."""

from __future__ import annotations

from genai_course.pretrained import Checkpoint, register

register(Checkpoint(
    name="tinygpt-tinylang",
    filename="tinygpt_tinylang.pt",
    sha256="5c0877775becfcb919ffe9b4186a6160478c4e8a1f57562ef3e201df0bd54de0",
    recipe="genai_course.pretrained.tinygpt_tinylang",
    description="character-level GPT (4 layers, 128 wide, 0.8M parameters) trained on "
                "TinyLang; validation loss within 10% of the exact entropy floor (Chapter 3)",
))

register(Checkpoint(
    name="digits-classifier",
    filename="digits-classifier.pt",
    sha256="53c156fd286807282a7f007c3839893586897eb2bf1e1052fd419fbbadb67b76",
    recipe="genai_course.pretrained.digits_classifier",
    description="Chapter 4: a small CNN that recognises the 8x8 digits (the judge of generated "
                "digits); trained on the training split with shift and noise augmentation.",
))

register(Checkpoint(
    name="ddpm-digits",
    filename="ddpm-digits.pt",
    sha256="3c78751f2a8a50925149a75c013dbf6f06a58b8843c9c6d4983ead99c44ebbf0",
    recipe="genai_course.pretrained.ddpm_digits",
    description="Chapter 4: a class-conditional U-Net noise predictor for the 8x8 digits "
                "(cosine schedule, T = 1000, label dropout 0.1 for classifier-free guidance); "
                "the model has its NoiseSchedule as model.schedule.",
))

register(Checkpoint(
    name="levelgpt-dungeons",
    filename="levelgpt-dungeons.pt",
    sha256="e4483b3f2522eb4dcfd494b023d07d027ae1b10c1a82383380d99bebca70c74e",
    recipe="genai_course.pretrained.levelgpt_dungeons",
    description="Chapter 9: a small GPT that writes 8x14 dungeon levels row by row, trained "
                "on drunkard's-walk levels; model.vocab holds its symbols.",
))

register(Checkpoint(
    name="melodygpt-folk",
    filename="melodygpt-folk.pt",
    sha256="66725f5bda2b6dcbdbbb1c3f7ac2c811e94ae71f0c1ad385f865702bbdf1ca61",
    recipe="genai_course.pretrained.melodygpt_folk",
    description="Chapter 9: a small GPT that writes four-bar melodies (pitch and duration "
                "symbols), trained on rule-written folk tunes; model.vocab holds its symbols.",
))

register(Checkpoint(
    name="codegpt-lists",
    filename="codegpt-lists.pt",
    sha256="026d0fbdb2e3804740f68bb6bd996945f938de8d5f9a4307b809d6c4044bc81d",
    recipe="genai_course.pretrained.codegpt_lists",
    description="Chapter 9: a small GPT that writes list-processing Python functions from an "
                "English specification; model.vocab holds its symbols.",
))

register(Checkpoint(
    name="tinygpt-tinylang-bpe",
    filename="tinygpt_tinylang_bpe.pt",
    sha256="70bf07c543e2823f6b6860ac21a7e2541b4d28fdb9bfe4e8f6e7afa8164aea7c",
    recipe="genai_course.pretrained.tinygpt_tinylang_bpe",
    description="Chapter 10: chapter 3's GPT (2 layers, 64 wide, 256-token window) trained on "
                "TinyLang in byte-pair tokens, one per word; validation loss within 1% of the "
                "exact entropy per sentence. Chapter 10 watermarks its text.",
))

register(Checkpoint(
    name="tinygpt-lastword-lora",
    filename="tinygpt-lastword-lora.pt",
    sha256="a262f370a8b48525b11e4e757c9ccdcbdb3b46c56d19bb56064b67e69d685e39",
    recipe="genai_course.pretrained.tinygpt_lastword",
    description="Chapter 7: a LoRA adapter (r = 8, alpha = 16, all linear layers of the blocks) "
                "that teaches tinygpt-tinylang to repeat a sentence's last word; its metrics "
                "hold the chapter's fine-tuning study (full vs LoRA ranks and targets, seeds, "
                "prompt mask, DPO betas).",
))

register(Checkpoint(
    name="tinychat",
    filename="tinychat.pt",
    sha256="6e35fb027089b8336707d2de004d98422c0b5bf16f776d5eb168b5a6f245b171",
    recipe="genai_course.pretrained.tinychat",
    description="Chapters 6-10: TinyChat, the course's instruction-following chat model (the "
                "chapter 3 GPT, 4 layers, 128 wide, context 512), pretrained and "
                "instruction-tuned on TinyLang, TinyWorld and the task world; model.chat is "
                "its ChatModel.",
))
