"""What a model is, with no costs: `Arch`, its parameter counts, precision and quantisation, the
presets (`presets`, data rows with sources) and Hugging Face ``config.json`` ingest (`hf`)."""
