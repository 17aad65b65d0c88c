"""``dnaseq explain``: why a model scores a sequence as it does.

Layers: :mod:`.ism` (in-silico mutagenesis through the scorer ``predict`` uses), :mod:`.gradients`
(saliency, input x gradient, integrated gradients through the model's base embedding, with Captum),
:mod:`.motifs` (JASPAR scan with exact p-values), :mod:`.plots` (heatmap + logo PNG) and
:mod:`.run` (inputs, outputs). Like ``predict/`` and ``vep/`` this package never imports ``engine/``.
"""
