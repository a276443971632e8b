"""CROHME data pipeline: files on disk -> `Record`s -> model-ready tensors and `Batch`es.

Modules (import what you need; nothing heavy is imported here):
`inkml` (InkML reader), `records` (folder/zip readers, source discovery), `render` (strokes -> image),
`augment` (photo-like training augmentation), `preprocess` (THE image -> tensor path used by training,
evaluation and the API), `symbols` (symbol classes, crops, counts), `datasets` (torch Datasets, collate,
bucketing sampler), `batch` (the typed `Batch`), `inspect` (statistics, preview grid and pipeline
throughput: the work of `seq2latex data stats|preview|bench`).
"""
