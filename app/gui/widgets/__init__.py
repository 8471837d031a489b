"""The main window's parts: usage bars, the status strip, the pause banner, the notice line,
the transcript view and the job detail pane."""
