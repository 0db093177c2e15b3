"""Result writers, summaries and plots."""
