/*
 * queue_dirs.c - (to be written)
 */
