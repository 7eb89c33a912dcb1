//! Random numbers identical to the C program's: the Numerical Recipes `ran1` generator and the deviates built on it.
