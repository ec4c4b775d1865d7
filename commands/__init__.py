"""The click commands cli.py gathers, one module per pipeline stage (harvest, curate, model).

Each command maps its options onto a stage's frozen config, calls one library function and renders
the result; cli.py's group turns the stages' PipelineErrors into one line and exit code 1.
"""
