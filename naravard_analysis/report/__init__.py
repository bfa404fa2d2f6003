"""naravard_analysis.report layer."""
