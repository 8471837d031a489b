"""The main window's parts: usage bars, the status strip, the pause banner, the transcript view, the job detail pane."""
