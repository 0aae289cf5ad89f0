"""What symroof prints and draws: LaTeX documents, plots, the command line and the seeds' derivations."""
