"""naravard_analysis.methods layer."""
