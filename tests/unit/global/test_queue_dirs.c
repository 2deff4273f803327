/*
 * test_queue_dirs.c - (to be written)
 */
int main(void) { return 0; }
