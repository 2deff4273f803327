/*
 * test_stream.c - (to be written)
 */
int main(void) { return 0; }
