"""Synthetic handwritten maths: school-maths (and CROHME-like) captions written with real CROHME symbols.

- `data.synth.expressions`: the captions (school families, CROHME caption variations), all in the vocabulary;
- `data.synth.glyphs`: the per-writer glyph bank of the CROHME training traceGroups (crohme_val writers apart);
- `data.synth.layout`: a caption laid out in one writer's hand as ink (strokes);
- `data.synth.build`: rendering and offline source folders (`python -m data.synth bank|build`);
- `data.synth.mix`: synthetic records mixed into training by `TrainConfig.synth_ratio`;
- `data.synth.sheet`: a contact sheet of synthetic expressions (`seq2latex synth --n 40 --out grid.png`,
  whose command is `seq2latex.cli.synth`).

Submodules are imported where used; this package imports nothing heavy.
"""
