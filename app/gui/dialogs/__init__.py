"""The main window's dialogs: settings, a new PRD, adding PRD files."""
