/*
 * lline.c - (to be written)
 */
