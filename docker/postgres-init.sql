-- Hookflow keeps its own database beside Temporal's.
CREATE DATABASE hookflow_app OWNER hookflow;
