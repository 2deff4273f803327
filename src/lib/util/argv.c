/*
 * argv.c - (to be written)
 */
