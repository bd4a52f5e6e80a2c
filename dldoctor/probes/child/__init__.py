"""Code that runs in the probe child, in the target interpreter: stdlib + one framework, 3.6+.

dldoctor never imports these modules to run them: it reads their source and ships it.
"""
