"""Code that runs in the cluster child, in the judged interpreter: stdlib + torch.distributed.

dldoctor never imports these modules to run them: it reads their source and ships it.
"""
