"""Widgets of the Companion app; each draws state it is given and posts what the user did."""
