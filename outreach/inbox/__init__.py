"""The unified inbox: conversation state, notes, replies written by reps, support metrics."""
