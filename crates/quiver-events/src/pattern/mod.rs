//! EventBridge's event pattern language: parsing a pattern and matching an event.
