"""seldlib: stereo sound event localisation and detection (DCASE 2025 Task 3), NERC-SLIP style."""
