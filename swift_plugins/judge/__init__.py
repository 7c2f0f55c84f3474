"""The LLM judge behind R_c (Eq. 6) and R_t (docs/rewards.md §5): settings, prompts, client."""
