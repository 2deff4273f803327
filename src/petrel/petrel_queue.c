/*
 * petrel_queue.c - (to be written)
 */
