"""The app's screens: today, live session, SOAP note, plans browser, review, help, dialogs."""
