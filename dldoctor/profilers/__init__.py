"""`dldoctor profile`: run an unmodified training script and say where its time goes.

The script runs in a child interpreter (``child/``) whose import hooks time every batch fetch;
the dldoctor process samples CPU, memory and GPUs from outside (``sampler.py``), keeps bounded
aggregates (``collector.py``), and turns them into a verdict and findings (``analysis.py``,
``rules.py``). Nothing here imports a deep-learning framework.
"""
