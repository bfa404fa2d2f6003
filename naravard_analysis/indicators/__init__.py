"""naravard_analysis.indicators layer."""
