"""`python -m dldoctor` runs the command-line interface."""

from dldoctor.cli import main

if __name__ == "__main__":
    main()
