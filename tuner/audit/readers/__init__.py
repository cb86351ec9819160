"""Readers turn one file into a :class:`tuner.audit.model.SourceFile`; they never run the code."""
