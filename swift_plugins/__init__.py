"""Audio-Thinker rewards and prompts for ms-swift GRPO (see docs/rewards.md)."""
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
